# Add-, Get-, Remove- and Test-AzsBackupNotificationTarget against a real daemon: help, -WhatIf,
# errors naming the parameter at fault, the pipeline, a secret that never shows in clear, and a test
# event delivered to a real HTTP receiver on 127.0.0.1.

BeforeDiscovery {
    $commands = @('Add-AzsBackupNotificationTarget', 'Get-AzsBackupNotificationTarget', 'Remove-AzsBackupNotificationTarget', 'Test-AzsBackupNotificationTarget')
}

Describe 'Notification targets' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
        . (Join-Path $PSScriptRoot 'DeploymentHelpers.ps1')
        Import-Module -Name $script:ManifestPath -Force
        $hookUri = 'https://hooks.example.com/azsbackup'

        function Get-TargetFile { Join-Path $stateDirectory 'notifications.json' }

        function Start-TestReceiver {
            <# A Node HTTP server on 127.0.0.1 (port 0) that answers 200 and writes each request as a JSON line to a file. #>
            $folder = New-TestFolder
            $script = Join-Path $folder 'receiver.js'
            $requests = Join-Path $folder 'requests.jsonl'
            $portFile = Join-Path $folder 'port'
            Set-Content -LiteralPath $script -Value @'
const http = require('node:http');
const fs = require('node:fs');
const [requests, portFile] = process.argv.slice(2);
const server = http.createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => (body += chunk));
  request.on('end', () => {
    fs.appendFileSync(requests, JSON.stringify({ method: request.method, url: request.url, headers: request.headers, body }) + '\n');
    response.writeHead(200, { 'content-type': 'text/plain' }).end('received');
  });
});
server.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, String(server.address().port)));
'@
            $process = Start-Process -FilePath 'node' -ArgumentList @($script, $requests, $portFile) -PassThru
            $deadline = [datetime]::UtcNow.AddSeconds(30)
            while (-not (Test-Path -LiteralPath $portFile) -or -not (Get-Content -Raw -LiteralPath $portFile)) {
                if ([datetime]::UtcNow -gt $deadline -or $process.HasExited) { throw 'the test receiver did not start' }
                Start-Sleep -Milliseconds 50
            }
            @{ Process = $process; Folder = $folder; Requests = $requests; Uri = "http://127.0.0.1:$((Get-Content -Raw -LiteralPath $portFile).Trim())/hook" }
        }

        function Get-ClosedPort {
            <# A port nothing listens on: one the system just gave out and that was closed again. #>
            $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
            $listener.Start()
            $port = $listener.LocalEndpoint.Port
            $listener.Stop()
            $port
        }
    }

    BeforeEach {
        $stateDirectory = New-TestHome
    }

    AfterEach {
        Remove-TestHome -StateDirectory $stateDirectory
    }

    Context 'help of <_>' -ForEach $commands {
        BeforeAll {
            $help = Get-Help -Name $_ -Full
        }

        It 'has at least two examples, each explained' {
            $examples = @($help.Examples.Example)
            $examples.Count | Should -BeGreaterOrEqual 2
            foreach ($example in $examples) { ($example.Remarks | Out-String).Trim() | Should -Not -BeNullOrEmpty }
        }

        It 'describes every parameter and names its output type' {
            foreach ($parameter in @($help.Parameters.Parameter)) {
                ($parameter.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$($parameter.Name) needs a description"
            }
            ($help.returnValues | Out-String) | Should -Match 'AzureStackBackup\.Notification(Target|TestResult)'
        }
    }

    Context 'Add- and Get-AzsBackupNotificationTarget' {
        It 'adds a target and returns it as a NotificationTarget with UTC times and no secret' {
            $target = Add-AzsBackupNotificationTarget -Name 'ops' -Kind Webhook -Uri $hookUri
            $target.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.NotificationTarget'
            $target.Name | Should -Be 'ops'
            $target.Kind | Should -Be 'Webhook'
            $target.Uri | Should -Be $hookUri
            $target.HasSecret | Should -BeFalse
            $target.CreatedTime | Should -BeOfType [datetime]
            $target.CreatedTime.Kind | Should -Be 'Utc'
            $target.LastDeliveryTime | Should -BeNullOrEmpty
            $target.PendingMessages | Should -Be 0
            (Get-AzsBackupNotificationTarget -Name 'ops').Uri | Should -Be $hookUri
        }

        It 'adds the targets piped in by property name, and gets them by name, wildcard and pipeline' {
            @(
                [pscustomobject]@{ Name = 'ops'; Kind = 'Webhook'; Uri = $hookUri }
                [pscustomobject]@{ Name = 'deadman'; Kind = 'Heartbeat'; Uri = 'https://hc-ping.example.com/0f6a1c1e' }
                [pscustomobject]@{ Name = 'siem'; Kind = 'Syslog'; Uri = 'udp://127.0.0.1:514' }
            ) | Add-AzsBackupNotificationTarget | Out-Null
            @(Get-AzsBackupNotificationTarget).Name | Should -Be @('ops', 'deadman', 'siem')
            @(Get-AzsBackupNotificationTarget 'dead*').Name | Should -Be @('deadman')
            @('siem', 'OPS' | Get-AzsBackupNotificationTarget).Name | Should -Be @('siem', 'ops')
            @([pscustomobject]@{ Name = 'siem' } | Get-AzsBackupNotificationTarget).Kind | Should -Be @('Syslog')
            Get-AzsBackupNotificationTarget -Name 'nobody*' | Should -BeNullOrEmpty
        }

        It 'reports a name without wildcards that matches no target as ObjectNotFound, naming it' {
            $failure = { Get-AzsBackupNotificationTarget -Name 'nobody' -ErrorAction Stop } |
                Should -Throw -ErrorId 'AzsBackup.NotificationTargetNotFound,Get-AzsBackupNotificationTarget' -PassThru
            $failure.CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $failure.TargetObject | Should -Be 'nobody'
        }

        It 'refuses <Kind> -Uri <Uri> naming -Uri (InvalidArgument), saving nothing' -ForEach @(
            @{ Kind = 'Webhook'; Uri = 'ftp://hooks.example.com/azsbackup' }
            @{ Kind = 'Webhook'; Uri = 'udp://127.0.0.1:514' }
            @{ Kind = 'Heartbeat'; Uri = 'hc-ping.example.com/0f6a1c1e' }
            @{ Kind = 'Syslog'; Uri = 'http://127.0.0.1:514' }
            @{ Kind = 'Syslog'; Uri = 'udp://127.0.0.1' }
        ) {
            $failure = { Add-AzsBackupNotificationTarget -Name 'bad' -Kind $Kind -Uri $Uri -ErrorAction Stop } |
                Should -Throw -ErrorId 'AzsBackup.InvalidParameter,Add-AzsBackupNotificationTarget' -PassThru
            $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
            $failure.Exception | Should -BeOfType [System.ArgumentException]
            $failure.Exception.Data['AzsBackup.Parameter'] | Should -Be 'Uri'
            $failure.Exception.Message | Should -Match '^Uri '
            Get-AzsBackupNotificationTarget | Should -BeNullOrEmpty
            Get-TargetFile | Should -Not -Exist
        }

        It 'refuses a duplicate name, whatever its case, as ResourceExists naming -Name, leaving the first as it was' {
            Add-AzsBackupNotificationTarget -Name 'ops' -Kind Webhook -Uri $hookUri | Out-Null
            $before = Get-FileHash -LiteralPath (Get-TargetFile)
            $failure = { Add-AzsBackupNotificationTarget -Name 'OPS' -Kind Syslog -Uri 'tcp://127.0.0.1:514' -ErrorAction Stop } |
                Should -Throw -ErrorId 'AzsBackup.NotificationTargetExists,Add-AzsBackupNotificationTarget' -PassThru
            $failure.CategoryInfo.Category | Should -Be 'ResourceExists'
            $failure.Exception.Data['AzsBackup.Parameter'] | Should -Be 'Name'
            $failure.TargetObject | Should -Be 'OPS'
            (Get-FileHash -LiteralPath (Get-TargetFile)).Hash | Should -Be $before.Hash
            @(Get-AzsBackupNotificationTarget).Kind | Should -Be @('Webhook')
        }

        It 'refuses a -Secret that is not base64 after whsec_, or given to a <Kind> target, naming -Secret' -ForEach @(
            @{ Kind = 'Webhook'; Uri = 'https://hooks.example.com/azsbackup'; Secret = 'whsec_not base64!' }
            @{ Kind = 'Heartbeat'; Uri = 'https://hc-ping.example.com/0f6a1c1e'; Secret = 'plain secret' }
        ) {
            $secure = ConvertTo-SecureString $Secret -AsPlainText -Force
            $failure = { Add-AzsBackupNotificationTarget -Name 'bad' -Kind $Kind -Uri $Uri -Secret $secure -ErrorAction Stop } |
                Should -Throw -ErrorId 'AzsBackup.InvalidParameter,Add-AzsBackupNotificationTarget' -PassThru
            $failure.Exception.Data['AzsBackup.Parameter'] | Should -Be 'Secret'
            $failure.Exception.Message | Should -Not -Match ([regex]::Escape($Secret))
            Get-TargetFile | Should -Not -Exist
        }

        It 'refuses an unknown -Kind before calling the daemon' {
            { Add-AzsBackupNotificationTarget -Name 'x' -Kind 'Email' -Uri $hookUri } |
                Should -Throw -ErrorId 'ParameterArgumentValidationError,Add-AzsBackupNotificationTarget'
        }

        It 'keeps a -Secret out of its output, the daemon log and every file of the state folder' {
            $key = [Convert]::ToBase64String([byte[]](1..32 | ForEach-Object { Get-Random -Maximum 256 }))
            $secret = "whsec_$key"
            $target = Add-AzsBackupNotificationTarget -Name 'ops' -Kind Webhook -Uri $hookUri -Secret (ConvertTo-SecureString $secret -AsPlainText -Force)
            $target.HasSecret | Should -BeTrue
            $listed = Get-AzsBackupNotificationTarget
            $listed.HasSecret | Should -BeTrue
            foreach ($shown in @($target, $listed)) {
                $shown | ConvertTo-Json | Should -Not -Match ([regex]::Escape($key))
                $shown | Format-List * | Out-String | Should -Not -Match ([regex]::Escape($key))
            }
            Get-TargetFile | Should -Exist
            Join-Path $stateDirectory 'logs/daemon.log' | Should -Exist
            Get-FilesContaining -Folder $stateDirectory -Text $key | Should -BeNullOrEmpty
        }

        It 'adds nothing with -WhatIf' {
            Add-AzsBackupNotificationTarget -Name 'ops' -Kind Webhook -Uri $hookUri -WhatIf | Should -BeNullOrEmpty
            Get-AzsBackupNotificationTarget | Should -BeNullOrEmpty
            Get-TargetFile | Should -Not -Exist
        }

        It 'returns objects that keep their type name and UTC times through serialisation (remoting)' {
            Add-AzsBackupNotificationTarget -Name 'ops' -Kind Webhook -Uri $hookUri | Out-Null
            $file = Join-Path $stateDirectory 'target.clixml'
            Get-AzsBackupNotificationTarget | Export-Clixml -LiteralPath $file
            $copy = Import-Clixml -LiteralPath $file
            $copy.PSObject.TypeNames[0] | Should -Be 'Deserialized.AzureStackBackup.NotificationTarget'
            $copy.CreatedTime | Should -BeOfType [datetime]
            $copy.Name | Should -Be 'ops'
        }

        It 'completes -Name of Get-, Remove- and Test- with the targets, and -Kind with the three kinds' {
            Add-AzsBackupNotificationTarget -Name 'ops' -Kind Webhook -Uri $hookUri | Out-Null
            Add-AzsBackupNotificationTarget -Name 'siem' -Kind Syslog -Uri 'udp://127.0.0.1:514' | Out-Null
            foreach ($command in 'Get-AzsBackupNotificationTarget', 'Remove-AzsBackupNotificationTarget', 'Test-AzsBackupNotificationTarget') {
                $line = "$command -Name s"
                @((TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText) | Should -Be @('siem')
            }
            $line = 'Add-AzsBackupNotificationTarget -Kind '
            @((TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Sort-Object) | Should -Be @('Heartbeat', 'Syslog', 'Webhook')
        }
    }

    Context 'Remove-AzsBackupNotificationTarget' {
        BeforeEach {
            Add-AzsBackupNotificationTarget -Name 'ops' -Kind Webhook -Uri $hookUri | Out-Null
            Add-AzsBackupNotificationTarget -Name 'siem' -Kind Syslog -Uri 'udp://127.0.0.1:514' | Out-Null
        }

        It 'removes every target piped in from Get-AzsBackupNotificationTarget' {
            Get-AzsBackupNotificationTarget | Remove-AzsBackupNotificationTarget -Confirm:$false | Should -BeNullOrEmpty
            Get-AzsBackupNotificationTarget | Should -BeNullOrEmpty
        }

        It 'returns the removed target with -PassThru, by a name in any case' {
            $removed = Remove-AzsBackupNotificationTarget -Name 'SIEM' -PassThru
            $removed.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.NotificationTarget'
            $removed.Name | Should -Be 'siem'
            @(Get-AzsBackupNotificationTarget).Name | Should -Be @('ops')
        }

        It 'removes nothing with -WhatIf' {
            $before = Get-FileHash -LiteralPath (Get-TargetFile)
            Get-AzsBackupNotificationTarget | Remove-AzsBackupNotificationTarget -WhatIf | Should -BeNullOrEmpty
            (Get-FileHash -LiteralPath (Get-TargetFile)).Hash | Should -Be $before.Hash
            @(Get-AzsBackupNotificationTarget).Count | Should -Be 2
        }

        It 'reports an unknown name as a non-terminating ObjectNotFound and still removes the others' {
            Remove-AzsBackupNotificationTarget -Name 'nobody', 'ops' -ErrorVariable failures -ErrorAction SilentlyContinue
            $failures.Count | Should -Be 1
            $failures[0].FullyQualifiedErrorId | Should -Be 'AzsBackup.NotificationTargetNotFound,Remove-AzsBackupNotificationTarget'
            $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $failures[0].TargetObject | Should -Be 'nobody'
            @(Get-AzsBackupNotificationTarget).Name | Should -Be @('siem')
        }
    }

    Context 'Test-AzsBackupNotificationTarget' {
        It 'delivers a test event to a real HTTP receiver and returns its answer (StatusCode 200, Succeeded)' {
            $receiver = Start-TestReceiver
            try {
                Add-AzsBackupNotificationTarget -Name 'ops' -Kind Webhook -Uri $receiver.Uri | Out-Null
                $result = Get-AzsBackupNotificationTarget -Name 'ops' | Test-AzsBackupNotificationTarget
                $result.PSObject.TypeNames[0] | Should -Be 'AzureStackBackup.NotificationTestResult'
                $result.Name | Should -Be 'ops'
                $result.Succeeded | Should -BeTrue
                $result.StatusCode | Should -Be 200
                $result.DurationMilliseconds | Should -BeGreaterOrEqual 0
                $requests = @(Get-Content -LiteralPath $receiver.Requests | ForEach-Object { $_ | ConvertFrom-Json })
                $requests.Count | Should -Be 1
                $requests[0].method | Should -Be 'POST'
                ($requests[0].body | ConvertFrom-Json).type | Should -Be 'notification.test'
            } finally {
                Stop-Process -Id $receiver.Process.Id -Force -ErrorAction SilentlyContinue
                Remove-Item -LiteralPath $receiver.Folder -Recurse -Force -ErrorAction SilentlyContinue
            }
        }

        It 'returns Succeeded $false, without an error, when nothing listens on the port' {
            Add-AzsBackupNotificationTarget -Name 'ops' -Kind Webhook -Uri "http://127.0.0.1:$(Get-ClosedPort)/hook" | Out-Null
            $result = Test-AzsBackupNotificationTarget -Name 'ops' -ErrorVariable failures
            $failures | Should -BeNullOrEmpty
            $result.Succeeded | Should -BeFalse
            $result.StatusCode | Should -BeNullOrEmpty
            $result.Response | Should -Not -BeNullOrEmpty
        }

        It 'reports an unknown name as a non-terminating ObjectNotFound' {
            $result = Test-AzsBackupNotificationTarget -Name 'nobody' -ErrorVariable failures -ErrorAction SilentlyContinue
            $result | Should -BeNullOrEmpty
            $failures[0].FullyQualifiedErrorId | Should -Be 'AzsBackup.NotificationTargetNotFound,Test-AzsBackupNotificationTarget'
            $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        }
    }
}
