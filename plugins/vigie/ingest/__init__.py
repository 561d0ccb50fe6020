"""From the landing zone to the raw tables: claiming, archiving and quarantining files, batches
loaded with their lineage, Great Expectations over each batch, one loader per source
(prefecture exports, the police-population API and its CSV fallback, association reports)."""
