# A syntax error skips its stage; the next stages are still read, so each broken
# stage gets its error in one run.
workflow w {
  scatter (file in files) {
    call FileProcessor { input: path = file.path config: { maxParallel 5 } }
  }
  call Pass { input: a = trigger.a }
  gather (page FileProcessor.outputs) {
    call Consolidator
  }
  broadcast { call EmailNotifier { input: x = } }
  call Fail { input: message = "done" }
}
