"""The feedback service: cases answered against SLAs in working time, and service-quality standards."""
