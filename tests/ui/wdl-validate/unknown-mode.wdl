# The manifest decides which modes exist; a typo is found by validation.
workflow w {
  scater (file in files) {
    call FileProcessor as process-files { input: path = file.path }
  }
}
