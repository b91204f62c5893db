OUTPUT ?= output

.PHONY: demo test

demo:
	python3 scripts/dev.py demo --output $(OUTPUT)

test:
	python3 scripts/dev.py test
