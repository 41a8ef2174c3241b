"""Keys: personal API keys (`sk-sc-...`) for clients, and each user's own provider keys."""
