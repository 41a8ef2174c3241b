"""Speech and pictures: voice-to-text and picture-to-text, with daily quotas per user."""
