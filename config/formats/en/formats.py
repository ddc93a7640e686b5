"""How the back-office writes dates and times (English locale, found through
FORMAT_MODULE_PATH before Django's own): a 24-hour clock and the zone's
abbreviation after every time, so a reader always knows which zone it is.
Input formats are Django's (not redefined here)."""

DATETIME_FORMAT = "j M Y, H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"
