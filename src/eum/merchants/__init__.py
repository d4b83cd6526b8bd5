"""Merchants, their tiers and Benefit Plus discount, merchant groups and coupons."""
