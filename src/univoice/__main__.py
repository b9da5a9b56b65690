from univoice.cli import main

main()
