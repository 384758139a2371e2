"""The nurse's PySide6 application. Thin: it renders station state and turns
clicks into station calls. The only package allowed to import Qt."""
