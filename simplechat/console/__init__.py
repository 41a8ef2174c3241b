"""The web console at /ui: chat, account and admin pages in the browser.

The package only serves files (`assets/`: plain ES modules, CSS, one vendored Markdown lexer);
the page calls the same API as any other client, with the user's own tokens.
"""
