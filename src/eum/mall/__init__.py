"""The online mall (인천e몰): products, carts, checkout paying through the pay service
with channel ``online``, orders per shop and their refunds."""
