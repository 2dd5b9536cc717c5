"""What the shop tells us: profiles, orders, engagement events and consent."""
