"""Picture-to-text engines: one interface (`base.OcrEngine`), one module per engine."""
