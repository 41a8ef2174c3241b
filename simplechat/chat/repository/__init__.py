"""The chat capability's storage: one module per collection (messages, conversations)."""
