// suite module: being written
