"""The LoyaltyDish dialect (seed 002): consumers, their tokens, points, redemptions, orders."""
