"""Each source declared once, as data (kinds, columns, synonyms, rules), and the row and file
validation driven by it; the validation, the Great Expectations suites, the XLSX template and
the raw tables' DDL all derive from these declarations."""
