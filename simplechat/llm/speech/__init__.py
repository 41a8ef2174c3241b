"""Speech-to-text engines: one interface (`base.SpeechEngine`), one module per engine."""
