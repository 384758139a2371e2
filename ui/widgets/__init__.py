"""Small reusable widgets (buttons, badges, tiles, previews, meters)."""
