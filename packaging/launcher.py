"""Entry point frozen into the app bundle (PyInstaller needs a script, not a console-script)."""
import sys

from desktop.app import main

if __name__ == "__main__":
    sys.exit(main())
