"""The demo: a product-image chain over a small product table, on the embedded defaults."""
