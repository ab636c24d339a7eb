"""Command-line interface: ``main(argv) -> int`` in main.py, one module per verb."""
