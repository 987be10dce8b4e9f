"""Training recipes shipped with gamermath."""
