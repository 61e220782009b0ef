"""The agent's page: state buttons, the screen-pop of an offered call, and wrap-up."""
