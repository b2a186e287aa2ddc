"""LLM providers behind one interface (`base.Provider`); `factory` builds the configured ones."""
