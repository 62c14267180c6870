"""Excel import and export of the register (人地物组织): templates, importer, exporter.

The column layout of each sheet is a Chinese data-exchange format defined once in
:mod:`linli.registry.excel.columns`; templates, the importer, error files and exports all read it,
so a template, its error file and an export of the same kind can be re-imported as they are.
"""
