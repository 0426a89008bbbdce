"""The site: the MkDocs plugin that adds the example pages, and the atomic build."""
