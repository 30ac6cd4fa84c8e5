"""Every session-state key the pages use, in one place."""


class StateKeys:
    REVIEWER = "reviewer"
    SKIPPED = "verify_skipped"
    FLASH = "flash"
    LAST_RETRAIN = "last_retrain"
    MAP_SELECTION = "monitor_map"
    HISTORY_PAGE = "history_page"
    HISTORY_FILTER = "history_filter"
    SHOWN_FEATURES = "monitor_features"
    SPEED = "speed"
    SPEED_DRAWN = "speed_drawn"
