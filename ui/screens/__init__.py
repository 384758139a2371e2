"""The nurse's screens, one module each; :class:`~ui.screens.base.Screen` is their base."""
