"""Node roles: stack files (TOML) and the role-specific modules (GLD, login, ...)."""
