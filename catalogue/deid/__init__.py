"""De-identification of DICOM headers against DICOM PS3.15 Annex E (the Basic Profile)."""
