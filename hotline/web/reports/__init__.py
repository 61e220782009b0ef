"""The supervisor's historical reports: ``/reports`` and its data and CSV."""
