//! `values.schema.json` validation.
