"""One module per source: its contract as data (kinds, columns, synonyms, row rules)."""
