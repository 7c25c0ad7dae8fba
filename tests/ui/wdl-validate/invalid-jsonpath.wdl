# A string that starts with $ is a JSONPath query, checked by validation.
workflow w {
  call Pass { input: first = "$.trigger.files[?" }
}
