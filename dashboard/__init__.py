"""The QBank admin dashboard: Panel pages over ``qbank`` services (see README, "Dashboard").

``dashboard.app.serve`` starts it; ``qbank dashboard`` and ``qbank demo`` call that by module
path, so importing ``qbank`` never imports Panel.
"""
