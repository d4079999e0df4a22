// Analysis: see the files of this folder.
