"""Command-line arguments and checks shared by the scripts in tools/."""
