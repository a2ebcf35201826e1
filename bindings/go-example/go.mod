module opendesk-render/go-example

go 1.19
