"""Reads on mass testing (other apps and the pages use these, not the models' managers).

rounds: visible rounds and their zones; coverage: 应检尽检 per village and the
door-to-door list; dashboard: the round's live figures.
"""
