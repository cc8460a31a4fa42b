"""Pages for people about access applications: researcher.py (the applicant's pages), rdo.py
(the Research Data Office's queue and review), documents.py (protected documents), and
presentation.py (what the templates show, in words)."""
