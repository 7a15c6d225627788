"""Specialistly: specialists sell consultation slots; every booking gets a Zoom meeting."""
