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
    CONFIRM_RESET = "monitor_confirm_reset"
    MONITOR_DRAWN = "monitor_drawn"  # (workspace generation, version) the page was last drawn for
    WORKSPACE_GENERATION = "workspace_generation"
    #: Keys that belong to one initialisation of the workspace (dropped after another).
    WORKSPACE_BOUND = (SKIPPED, LAST_RETRAIN, MAP_SELECTION, HISTORY_PAGE, HISTORY_FILTER, SHOWN_FEATURES)
    DATA_SOURCE = "data_source"
    DATA_UPLOAD = "data_upload"
    DATA_CONFIRM = "data_confirm"
    DATA_INIT = "data_init"
    DATA_PREVIEW = "data_preview_cache"
    DATA_DIGESTS = "data_upload_digest"
    #: Prefix of the Data page's column choices, one set per file (see app_pages/data.py).
    DATA_CHOICES = "data_file_"
    RETRAIN_ANYWAY = "retrain_anyway"
