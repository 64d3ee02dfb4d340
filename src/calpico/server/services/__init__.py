"""The server's behaviour, one module per concept; routes stay thin and call these."""
