"""Powerball service: valid tickets, number statistics, and an honest evaluation against chance."""
