# Every problem past the syntax is reported at once, in source order.
workflow w {
  input { files files }
  scatter (file in files) {
    call FileProcessor { input: path = file.path, owner = owner }
  }
  call FileProcessor { config: { retries: three } }
  gather (page in Later.outputs) { call Consolidator }
}
