{{ define "binary" }}{{ .Files.Get "files/ks.jks" }}{{ end }}
