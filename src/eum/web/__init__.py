"""Server-rendered pages (Jinja2), Korean first. Thin: they show what services return."""
