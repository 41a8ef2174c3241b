"""The accounts capability's collections: users, refresh tokens, avatars and the admin count."""
