"""Services of the director: each owns one resource and runs in the director's nursery."""
