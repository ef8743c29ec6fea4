"""Views, one module per area of the product (the app's views outgrew one file)."""
