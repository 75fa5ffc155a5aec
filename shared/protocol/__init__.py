"""Wire structs, one module per resource, named as OpenAI names them. No logic here."""
